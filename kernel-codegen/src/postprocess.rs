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

    fn visit_item_impl_mut(&mut self, block: &mut syn::ItemImpl) {
        let mut added = Vec::new();
        for item in block.items.iter_mut() {
            let syn::ImplItem::Fn(f) = item else { continue };
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
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    Some((types.next()?, types.next()?))
}

/// `X<T>` → `T`.
fn inner_arg(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}
