//! Which contract a component was built for, read off its WIT types without compiling it
//! (milliseconds, where compiling takes seconds): for policy versions stored before rabat
//! kept the contract with each version. A compiled component says the same through
//! [`crate::CompiledPolicy::contract`]; the two agree on every example and fixture (the
//! sandbox's `contract_of` test).

use wit_parser::{Resolve, Type, TypeDefKind, WorldItem};

use crate::Contract;

/// The contract `wasm` (a component) was built for: by the version of the `rabat:rules`
/// interfaces it imports, or, when it imports none (a policy that never logs), by
/// `evaluate`'s parameter (0.1: a `context` record; else one `list<u8>`) and answer (0.3's
/// discounts have a `coupon` field, 0.2's do not) — the same rule the compiler path
/// follows. An error says why it cannot tell.
pub fn read_contract(wasm: &[u8]) -> Result<Contract, String> {
    let decoded = wit_component::decode(wasm).map_err(|e| format!("{e:#}"))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("it is a WIT package, not a component".into());
    };
    let world = &resolve.worlds[world];
    let mut found = Vec::new();
    for item in world.imports.values() {
        let WorldItem::Interface { id, .. } = item else {
            continue;
        };
        let Some(package) = resolve.interfaces[*id].package else {
            continue;
        };
        let name = &resolve.packages[package].name;
        if name.namespace != "rabat" || name.name != "rules" {
            continue;
        }
        let contract = match name.version.as_ref().map(ToString::to_string).as_deref() {
            Some("0.1.0") => Contract::V0_1,
            Some("0.2.0") => Contract::V0_2,
            Some("0.3.0") => Contract::V0_3,
            _ => continue,
        };
        if !found.contains(&contract) {
            found.push(contract);
        }
    }
    match found.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        several => {
            let names: Vec<&str> = several.iter().map(|c| c.name()).collect();
            return Err(format!(
                "it imports the interfaces of several contracts: {}",
                names.join(", ")
            ));
        }
    }
    let evaluate = world.exports.iter().find_map(|(key, item)| match item {
        WorldItem::Function(f) if resolve.name_world_key(key) == "evaluate" => Some(f),
        _ => None,
    });
    let Some(evaluate) = evaluate else {
        return Err("the component exports no `evaluate` function".into());
    };
    match evaluate.params.first().map(|p| kind(&resolve, p.ty)) {
        Some(Some(TypeDefKind::List(_))) => Ok(if answers_coupons(&resolve, evaluate.result) {
            Contract::V0_3
        } else {
            Contract::V0_2
        }),
        Some(Some(TypeDefKind::Record(_))) => Ok(Contract::V0_1),
        _ => Err("its `evaluate` takes neither a `list<u8>` (0.2) nor a `context` (0.1)".into()),
    }
}

/// Whether `evaluate`'s answer (`result<evaluation, string>`) has discounts with a
/// `coupon` field: contract 0.3's, where 0.2's have none.
fn answers_coupons(resolve: &Resolve, answer: Option<Type>) -> bool {
    let Some(TypeDefKind::Result(result)) = answer.and_then(|ty| kind(resolve, ty)) else {
        return false;
    };
    let Some(TypeDefKind::Record(evaluation)) = result.ok.and_then(|ty| kind(resolve, ty)) else {
        return false;
    };
    let discounts = evaluation.fields.iter().find(|f| f.name == "discounts");
    let Some(TypeDefKind::List(discount)) = discounts.and_then(|f| kind(resolve, f.ty)) else {
        return false;
    };
    let Some(TypeDefKind::Record(discount)) = kind(resolve, *discount) else {
        return false;
    };
    discount.fields.iter().any(|f| f.name == "coupon")
}

/// The kind of a named or anonymous type, through aliases.
fn kind(resolve: &Resolve, mut ty: Type) -> Option<&TypeDefKind> {
    loop {
        let Type::Id(id) = ty else {
            return None;
        };
        match &resolve.types[id].kind {
            TypeDefKind::Type(inner) => ty = *inner,
            other => return Some(other),
        }
    }
}
