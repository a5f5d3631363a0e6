//! `command.run` and `cicd.run` (shell): run `args.command` or `args.script` with `sh -c`; a
//! `cicd.run` node may instead take the script of its `cicd` gate.

use super::{OpContext, OpResult};

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let text = ctx
        .arg("command")
        .or_else(|| ctx.arg("script"))
        .or_else(|| ctx.cicd_gate_script());
    let Some(text) = text else {
        return OpResult::failed(format!(
            "`{}` has no `args.command` or `args.script` after param substitution",
            ctx.node
                .executor_operation
                .as_deref()
                .unwrap_or("command.run")
        ));
    };
    match ctx.shell(text) {
        Ok(code) => OpResult::from_exit("the command", code),
        Err(e) => OpResult::failed(e),
    }
}
