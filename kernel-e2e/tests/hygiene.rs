//! Card-data hygiene of the typed clients: canaries pushed through success, validation,
//! 4xx, retried 5xx, timeout and dry-run paths with tracing at TRACE never appear in logs,
//! in errors' `Display`/`Debug`, or in the `Debug` of requests, builders and responses.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kernel_core::CallOptions;
use kernel_core::typed::ServiceContext;
use kernel_e2e::{client, sandbox};
use kernel_sandbox::Fault;

const CARD: &str = "4000056655665556"; // Luhn-valid public test card
const BAD_LUHN_CARD: &str = "4000056655665557";
const CVV: &str = "8153";
const WALLET_TOKEN: &str = "CANARY-wallet-token-eyJhbGciOiJFQ0RILUVTIn0";
const SIGNED_MESSAGE: &str = "CANARY-signed-message-c2FuZGJveA";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str, extra: &[String]) {
    let mut canaries: Vec<String> = vec![
        CARD.into(),
        BAD_LUHN_CARD.into(),
        format!("\"{CVV}\""),
        WALLET_TOKEN.into(),
        SIGNED_MESSAGE.into(),
        "AWS4-HMAC-SHA256 Credential=ASIA".into(),
    ];
    canaries.extend(extra.iter().cloned());
    for c in &canaries {
        assert!(!text.contains(c.as_str()), "{what} leaks {c:?}:\n{text}");
    }
    // A signature may only ever be shown redacted (dry-run plans).
    for (i, _) in text.match_indices("Signature=") {
        assert!(
            text[i..].starts_with("Signature=<redacted>"),
            "{what} shows a signature:\n{text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn typed_paths_never_leak_card_data_or_secrets() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sandbox = sandbox().await;
    let kernel = client(&sandbox, true).await;
    let mut printed = String::new();
    let k3 = kernel_k3::K3::new(&kernel);
    let tokenize = |card: &'static str| {
        k3.tokenize().body_map(move |b| {
            b.card_number(card)
                .exp_month("12")
                .exp_year("2030")
                .cvv(CVV)
        })
    };
    printed.push_str(&format!("{:?}\n", tokenize(CARD)));

    // Success.
    let ok = tokenize(CARD).send().await.expect("tokenized");
    printed.push_str(&format!("{ok:?}\n"));
    // A 400 from the service (Luhn).
    let e = tokenize(BAD_LUHN_CARD).send().await.expect_err("400");
    printed.push_str(&format!("{e} {e:?}\n"));
    // Client-side validation (CVV too long).
    let e = k3
        .tokenize()
        .body_map(|b| {
            b.card_number(CARD)
                .exp_month("12")
                .exp_year("2030")
                .cvv("81531")
        })
        .send()
        .await
        .expect_err("refused");
    printed.push_str(&format!("{e} {e:?}\n"));
    // A 503 on a POST (not retried) and a timeout.
    sandbox.inject("k3", [Fault::Status(503)]);
    let e = tokenize(CARD).send().await.expect_err("503");
    printed.push_str(&format!("{e} {e:?}\n"));
    sandbox.inject("k3", [Fault::Latency(Duration::from_secs(2))]);
    let e = kernel_k3::K3::with_options(
        &kernel,
        CallOptions::new().read_timeout(Duration::from_millis(200)),
    )
    .tokenize()
    .body_map(|b| {
        b.card_number(CARD)
            .exp_month("12")
            .exp_year("2030")
            .cvv(CVV)
    })
    .send()
    .await
    .expect_err("timeout");
    printed.push_str(&format!("{e} {e:?}\n"));

    // Wallets: tokens through success and a retried GET-less failure.
    let paze_client = kernel_wallets::Paze::new(&kernel);
    let paze = paze_client
        .decode_token()
        .body_map(|b| b.token(WALLET_TOKEN));
    printed.push_str(&format!("{paze:?}\n"));
    let ok = paze.send().await.expect("decoded");
    printed.push_str(&format!("{ok:?}\n"));
    sandbox.inject("google-wallet-key-service", [Fault::DropAfterRead]);
    let google_client = kernel_wallets::GoogleWallet::new(&kernel);
    let google = google_client.decrypt_payment_method_token().body_map(|b| {
        b.protocol_version("ECv2")
            .signature("c2ln")
            .intermediate_signing_key(
                kernel_wallets::google::types::IntermediateSigningKey::builder()
                    .signed_key("{}")
                    .signatures(vec!["c2ln".parse().expect("valid")]),
            )
            .signed_message(SIGNED_MESSAGE)
    });
    printed.push_str(&format!("{google:?}\n"));
    let e = google.send().await.expect_err("dropped");
    printed.push_str(&format!("{e} {e:?}\n"));

    // Dry run.
    let plans = Arc::new(Mutex::new(Vec::new()));
    let dry = kernel_k3::K3::from_context(
        ServiceContext::new(&kernel, kernel_k3::k3::SERVICE).dry_run(plans.clone()),
    );
    let e = dry
        .tokenize()
        .body_map(|b| {
            b.card_number(CARD)
                .exp_month("12")
                .exp_year("2030")
                .cvv(CVV)
        })
        .send()
        .await
        .expect_err("dry run");
    printed.push_str(&format!("{e} {e:?} {:?}\n", plans.lock().expect("lock")));

    let creds = kernel
        .credentials()
        .get()
        .await
        .expect("cached credentials");
    let extra = [
        creds.credentials().secret_access_key().to_owned(),
        creds
            .credentials()
            .session_token()
            .unwrap_or("none")
            .to_owned(),
        sandbox.config().base_secret_access_key.clone(),
        sandbox.config().external_id.clone(),
    ];
    drop(_guard);
    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(logs.contains("kernel_core"), "tracing was captured");
    // Typed calls are traced with their service's log subsystem (from x-kernel).
    for subsystem in ["subsystem=\"K3\"", "subsystem=\"PAZE WALLET KEY SERVICE\""] {
        assert!(logs.contains(subsystem), "no span with {subsystem}");
    }
    assert_clean("Display/Debug", &printed, &extra);
    assert_clean("TRACE logs", &logs, &extra);
}
