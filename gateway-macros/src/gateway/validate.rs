//! Semantic checks on a gateway: one hook of each kind, one handler per event, no message body
//! where there is no message, `()` where nothing can be sent.

use super::model::{Gateway, HookKind};
use crate::diag::Errors;
use crate::shared::validate::{require_unit_return, signature};
use crate::shared::Source;

pub(super) fn gateway(gateway: &Gateway, errors: &mut Errors) {
    crate::shared::validate::options(&gateway.options, errors);
    crate::shared::validate::route(&gateway.route, gateway.route_span, &[], errors);
    for (index, hook) in gateway.hooks.iter().enumerate() {
        let name = hook.kind.attribute();
        signature(&hook.method, &format!("a `#[{name}]` hook"), errors);
        let earlier =
            gateway.hooks[..index]
                .iter()
                .find(|earlier| match (&earlier.kind, &hook.kind) {
                    (HookKind::Subscribe(a), HookKind::Subscribe(b)) => a.value() == b.value(),
                    (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
                });
        if let Some(earlier) = earlier {
            let what = match &hook.kind {
                HookKind::Subscribe(event) => format!("event `{}`", event.value()),
                _ => format!("`#[{name}]`"),
            };
            errors.spanned(
                &hook.attr,
                format!(
                    "{what} is already handled by `{}`; a gateway has one of each",
                    earlier.method.ident
                ),
            );
        }
        if matches!(hook.kind, HookKind::OnResume) && gateway.options.resume.is_none() {
            errors.spanned(
                &hook.attr,
                "`#[on_resume]` runs when a client resumes its session, which needs the gateway's \
                 `resume` option: `#[gateway(\"path\", resume = \"2m\")]`",
            );
        }
        if matches!(
            hook.kind,
            HookKind::OnConnect | HookKind::OnResume | HookKind::OnDisconnect | HookKind::OnError
        ) {
            for param in &hook.method.params {
                if let Source::Body { attr, .. } = &param.source {
                    errors.spanned(
                        attr,
                        format!("`#[{name}]` runs without a client message, so it has no `#[body]`; remove this parameter"),
                    );
                }
            }
        }
        if matches!(hook.kind, HookKind::OnDisconnect | HookKind::OnError) {
            require_unit_return(
                &hook.method,
                |found| {
                    format!("`#[{name}]` cannot send (the connection may be gone), so it returns `()`, not `{found}`")
                },
                errors,
            );
        }
    }
}
