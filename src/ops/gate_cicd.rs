//! `gate.cicd`: runs the CI script of its `cicd` gate; on failure with `auto_resolve`, runs the fix
//! script (`args.auto_resolve_script`) and then the CI script once more.

use serde_json::json;

use super::{OpContext, OpResult};

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let Some(gate) = ctx
        .node
        .gates
        .iter()
        .find(|g| g.kind == crate::template::GateKind::Cicd)
    else {
        return OpResult::failed("`gate.cicd` has no `cicd` gate");
    };
    let Some(script) = gate.script.as_deref().filter(|s| !s.trim().is_empty()) else {
        return OpResult::failed("the `cicd` gate has no `script` after param substitution");
    };
    let first = match ctx.shell(script) {
        Ok(code) => code,
        Err(e) => return OpResult::failed(e),
    };
    if first == 0 || !gate.auto_resolve {
        let mut result = OpResult::from_exit("the CI script", first);
        result
            .metadata
            .insert("cicd_attempt".into(), json!(ctx.attempt));
        return result;
    }
    let Some(fix) = ctx.arg("auto_resolve_script") else {
        let mut result = OpResult::from_exit("the CI script", first);
        result.message = Some(format!(
            "the CI script exited with code {first}; `auto_resolve` is on but `args.auto_resolve_script` is not set"
        ));
        return result;
    };
    let fixed = match ctx.shell(fix) {
        Ok(code) => code,
        Err(e) => return OpResult::failed(e),
    };
    let second = match ctx.shell(script) {
        Ok(code) => code,
        Err(e) => return OpResult::failed(e),
    };
    let mut result = OpResult::from_exit("the CI script (after the fix script)", second);
    result
        .metadata
        .insert("cicd_attempt".into(), json!(ctx.attempt));
    result
        .metadata
        .insert("cicd_auto_resolve_exit_code".into(), json!(fixed));
    result
}
