//! net_prio: per interface priorities.

use super::files::*;
use crate::plan::Setting;
use crate::resources::Resources;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    let Some(n) = &r.network else { return };
    for p in &n.priorities {
        out.push(Setting::new(
            NET_PRIO_IFPRIOMAP,
            format!("{} {}", p.name, p.priority),
        ));
    }
}
