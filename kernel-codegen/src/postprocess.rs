//! The one change made to progenitor's output: each builder's `send()` returns
//! `kernel_core::Error` instead of progenitor's error, whose `Debug` and `Display` print
//! response bodies and header values. progenitor's method is kept, renamed
//! `send_unmapped` and made private; the new public `send` maps its error with
//! `kernel_core::typed::into_error`. Done on the syntax tree, so no generated text is ever
//! edited by hand.

use kernel_spec::SpecError;
use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident};
use syn::visit_mut::VisitMut;

pub(crate) fn wrap_send(spec: &str, tokens: TokenStream) -> Result<TokenStream, SpecError> {
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| SpecError {
        spec: spec.to_owned(),
        operation: None,
        construct: "generated code".into(),
        why: format!("progenitor's output does not parse ({e})"),
    })?;
    let mut pass = WrapSend {
        error: None,
        wrapped: 0,
    };
    pass.visit_file_mut(&mut file);
    hide_progenitor_error(&mut file);
    if let Some(why) = pass.error {
        return Err(SpecError {
            spec: spec.to_owned(),
            operation: None,
            construct: "generated code".into(),
            why,
        });
    }
    Ok(file.into_token_stream())
}

/// progenitor re-exports its `Error` at the module root, where users would take it for the
/// error `send()` returns. It stays importable by the generated `builder` module (a private
/// `use` is visible to child modules) but is no longer public.
fn hide_progenitor_error(file: &mut syn::File) {
    let mut private = None;
    for item in file.items.iter_mut() {
        let syn::Item::Use(u) = item else { continue };
        if !matches!(u.vis, syn::Visibility::Public(_)) {
            continue;
        }
        let syn::UseTree::Path(p) = &mut u.tree else {
            continue;
        };
        if p.ident != "progenitor_client" {
            continue;
        }
        let syn::UseTree::Group(g) = &mut *p.tree else {
            continue;
        };
        let before = g.items.len();
        g.items = g
            .items
            .iter()
            .filter(|t| !matches!(t, syn::UseTree::Name(n) if n.ident == "Error"))
            .cloned()
            .collect();
        if g.items.len() != before {
            private = Some(syn::parse_quote! {
                #[allow(unused_imports)]
                use progenitor_client::Error;
            });
        }
    }
    if let Some(item) = private {
        file.items.insert(0, item);
    }
}

struct WrapSend {
    error: Option<String>,
    wrapped: usize,
}

impl VisitMut for WrapSend {
    /// `encode_path(..)` → `::kernel_core::typed::encode_path(..)`, which refuses `.`,
    /// `..` and empty path parameters.
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        if let syn::Expr::Path(p) = &mut *call.func
            && p.path.is_ident("encode_path")
        {
            p.path = syn::parse_quote!(::kernel_core::typed::encode_path);
        }
        syn::visit_mut::visit_expr_call_mut(self, call);
    }

    /// The same inside macro invocations (`format!("{}/x/{}", base, encode_path(..))`),
    /// whose arguments syn keeps as tokens.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = replace_encode_path(std::mem::take(&mut mac.tokens));
        syn::visit_mut::visit_macro_mut(self, mac);
    }

    fn visit_item_mod_mut(&mut self, module: &mut syn::ItemMod) {
        // kernel-codegen's newtypes replace typify's types: make them reachable where the
        // other types are (`types::CardNumber`, `types::RoutingNumber`).
        if module.ident == "types"
            && let Some((_, items)) = module.content.as_mut()
        {
            items.push(syn::parse_quote! {
                pub use super::checked::*;
            });
        }
        syn::visit_mut::visit_item_mod_mut(self, module);
    }

    /// progenitor documents each operation with a usage fragment fenced as ```` ```ignore ````.
    /// It is a sketch (`client`, `card_bin` are not in scope), not a test: fenced as
    /// `text`, rustdoc shows it the same and the doc-test run no longer reports it as an
    /// ignored test.
    fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
        if attr.path().is_ident("doc")
            && let syn::Meta::NameValue(nv) = &mut attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = &mut nv.value
            && text.value().contains("```ignore")
        {
            let fenced = text.value().replace("```ignore", "```text");
            *text = syn::LitStr::new(&fenced, text.span());
        }
        syn::visit_mut::visit_attribute_mut(self, attr);
    }

    fn visit_item_impl_mut(&mut self, block: &mut syn::ItemImpl) {
        let mut added = Vec::new();
        for item in block.items.iter_mut() {
            let syn::ImplItem::Fn(f) = item else { continue };
            explain_conversion_errors(f);
            if f.sig.ident != "send" || f.sig.asyncness.is_none() {
                continue;
            }
            let Some((ok, err)) = result_args(&f.sig.output) else {
                self.error = Some(format!(
                    "a builder's send() has an unexpected return type: {}",
                    f.sig.output.to_token_stream()
                ));
                return;
            };
            let Some(success) = inner_arg(&ok) else {
                self.error = Some("send()'s success type is not ResponseValue<T>".into());
                return;
            };
            let Some(error_body) = inner_arg(&err) else {
                self.error = Some("send()'s error type is not Error<E>".into());
                return;
            };
            let docs: Vec<&syn::Attribute> = f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .collect();
            f.sig.ident = format_ident!("send_unmapped");
            f.vis = syn::Visibility::Inherited;
            let new: syn::ImplItemFn = syn::parse_quote! {
                #(#docs)*
                ///
                /// Runs through kernel-core (credentials, SigV4, retries, timeouts, tracing).
                /// Errors are `kernel_core::Error`: an HTTP error status is
                /// `Error::Status` (typed body: `error.error_body::<types::Error>()`), and
                /// nothing in an error's `Display` or `Debug` quotes a body or a secret.
                pub async fn send(self) -> ::std::result::Result<#ok, ::kernel_core::Error> {
                    self.send_unmapped()
                        .await
                        .map_err(::kernel_core::typed::into_error::<#success, #error_body>)
                }
            };
            added.push(syn::ImplItem::Fn(new));
            self.wrapped += 1;
        }
        block.items.extend(added);
        syn::visit_mut::visit_item_impl_mut(self, block);
    }
}

/// A parameter setter (`fn card_bin<V>(self, value: V) where V: TryInto<T>`) drops the
/// conversion's error (`map_err(|_| "conversion to `T` for card_bin failed")`), so a
/// refused value said nothing of the rule it broke. Body setters already keep it, with a
/// `Display` bound on the error: parameter setters get the same bound and keep the
/// error too. The errors of the types that reach these setters (kernel-codegen's checked
/// types, typify's, std's integer conversions, `Infallible`) name the rule, never the
/// value. The type in the message is shortened to its name (`crate :: m :: checked ::
/// ListItemsLimit` → `ListItemsLimit`).
fn explain_conversion_errors(f: &mut syn::ImplItemFn) {
    let Some(target) = try_into_target(&f.sig) else {
        return;
    };
    let mut pass = KeepConversionError { rewritten: false };
    pass.visit_block_mut(&mut f.block);
    if pass.rewritten
        && let Some(wc) = f.sig.generics.where_clause.as_mut()
    {
        wc.predicates.push(syn::parse_quote! {
            <V as std::convert::TryInto<#target>>::Error: std::fmt::Display
        });
    }
}

/// `T` of a builder setter whose only predicate is `V: TryInto<T>` (no bound on its error
/// yet).
fn try_into_target(sig: &syn::Signature) -> Option<syn::Type> {
    let wc = sig.generics.where_clause.as_ref()?;
    if wc.predicates.len() != 1 {
        return None;
    }
    setter_target(sig)
}

/// `T` of a builder setter `fn x<V>(self, value: V) where V: TryInto<T>, …`.
pub(crate) fn setter_target(sig: &syn::Signature) -> Option<syn::Type> {
    sig.generics
        .where_clause
        .as_ref()?
        .predicates
        .iter()
        .find_map(|pred| {
            let syn::WherePredicate::Type(t) = pred else {
                return None;
            };
            if t.bounded_ty.to_token_stream().to_string() != "V" {
                return None;
            }
            t.bounds.iter().find_map(|bound| {
                let syn::TypeParamBound::Trait(tb) = bound else {
                    return None;
                };
                let last = tb.path.segments.last()?;
                if last.ident != "TryInto" {
                    return None;
                }
                type_args(last).next()
            })
        })
}

struct KeepConversionError {
    rewritten: bool,
}

impl VisitMut for KeepConversionError {
    fn visit_expr_closure_mut(&mut self, c: &mut syn::ExprClosure) {
        let discards = c.inputs.len() == 1 && matches!(c.inputs.first(), Some(syn::Pat::Wild(_)));
        if discards && let Some(message) = conversion_message(&c.body) {
            let message = shorten_type_paths(&message);
            *c = syn::parse_quote! {
                |e| format!("{}: {}", #message, e)
            };
            self.rewritten = true;
            return;
        }
        syn::visit_mut::visit_expr_closure_mut(self, c);
    }
}

/// The literal of `"conversion to …".to_string()` (possibly inside a block).
fn conversion_message(body: &syn::Expr) -> Option<String> {
    let expr = match body {
        syn::Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
            syn::Stmt::Expr(e, None) => e,
            _ => return None,
        },
        other => other,
    };
    let syn::Expr::MethodCall(call) = expr else {
        return None;
    };
    if call.method != "to_string" {
        return None;
    }
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(text),
        ..
    }) = &*call.receiver
    else {
        return None;
    };
    let text = text.value();
    text.starts_with("conversion to `").then_some(text)
}

/// ``conversion to `crate :: m :: checked :: X` for x failed`` → ``conversion to `X` for x
/// failed`` (generic types such as `Vec < X >` are left as progenitor wrote them).
fn shorten_type_paths(message: &str) -> String {
    let mut parts: Vec<String> = message.split('`').map(str::to_owned).collect();
    for (i, part) in parts.iter_mut().enumerate() {
        if i % 2 == 1 && part.contains("::") && !part.contains('<') {
            let name = part.rsplit("::").next().unwrap_or(part).trim().to_owned();
            *part = name;
        }
    }
    parts.join("`")
}

fn replace_encode_path(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, TokenTree};
    let mut out = Vec::new();
    let mut prev_colon = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(ref i) if i == "encode_path" && !prev_colon => {
                out.extend(quote::quote!(::kernel_core::typed::encode_path));
                prev_colon = false;
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), replace_encode_path(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
                prev_colon = false;
            }
            other => {
                prev_colon = matches!(&other, TokenTree::Punct(p) if p.as_char() == ':');
                out.push(other);
            }
        }
    }
    out.into_iter().collect()
}

/// `Result<A, B>` → `(A, B)`.
fn result_args(output: &syn::ReturnType) -> Option<(syn::Type, syn::Type)> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let syn::Type::Path(p) = &**ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let mut types = type_args(last);
    Some((types.next()?, types.next()?))
}

/// `X<T>` → `T`.
fn inner_arg(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    type_args(p.path.segments.last()?).next()
}

/// The type arguments of a path segment (`Result<A, B>` → `A`, `B`).
fn type_args(segment: &syn::PathSegment) -> impl Iterator<Item = syn::Type> + '_ {
    let args = match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => Some(args.args.iter()),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}
