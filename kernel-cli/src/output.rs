//! Writing to stdout without panicking when the reader went away (`kernel demo | head`).

use std::io::Write as _;

use crate::failure::Failure;

/// Writes `bytes` to stdout and flushes. A closed pipe is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("could not write to stdout: {e}"))),
    }
}

/// Collects lines, then writes them with [`write_stdout`].
#[derive(Default)]
pub(crate) struct Lines(String);

impl Lines {
    /// Appends one line.
    pub(crate) fn line(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }
    /// Writes everything collected so far and starts over.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        let text = std::mem::take(&mut self.0);
        write_stdout(text.as_bytes())
    }
}
