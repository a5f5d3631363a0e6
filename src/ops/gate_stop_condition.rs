//! `gate.stop_condition`: runs its `script` gate (none means pass). A failure routes `on.failed`
//! (usually back to the work node) within the node's retry budget.

use super::{OpContext, OpResult};

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let script = ctx
        .node
        .gates
        .iter()
        .find(|g| g.kind == crate::template::GateKind::Script)
        .and_then(|g| g.script.as_deref());
    match script {
        None => OpResult::succeeded(),
        Some(script) => match ctx.shell(script) {
            Ok(code) => OpResult::from_exit("the stop-condition script", code),
            Err(e) => OpResult::failed(e),
        },
    }
}
