//! net_cls: class id for traffic control.

use super::files::*;
use crate::plan::Setting;
use crate::resources::Resources;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    if let Some(id) = r.network.as_ref().and_then(|n| n.class_id) {
        out.push(Setting::new(NET_CLS_CLASSID, id.to_string()));
    }
}
