"""Key-level differences between two daemon.json dicts, with proxy credentials masked."""
import json

from .validate import mask_url


def mask(value):
    """``value`` with every ``scheme://user:password@`` credential replaced by ``user:***``."""
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, list):
        return [mask(item) for item in value]
    if isinstance(value, dict):
        return dict((key, mask(item)) for key, item in value.items())
    return value


def key_changes(before, after):
    """``[{"key", "before", "after"}]`` for each key added, removed or changed; absent is None."""
    before = before or {}
    changes = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changes.append({"key": key, "before": mask(before.get(key)), "after": mask(after.get(key))})
    return changes


def ansible_diff(plan, path, drop_in_path):
    """The module's ``diff``: the changed daemon.json keys only, then the drop-in text if it changes."""
    diffs = []
    changes = key_changes(plan.before, plan.after)
    if changes:
        before = dict((c["key"], c["before"]) for c in changes if c["key"] in (plan.before or {}))
        after = dict((c["key"], c["after"]) for c in changes if c["key"] in plan.after)
        diffs.append({
            "before_header": "%s (changed keys)" % path,
            "after_header": "%s (changed keys)" % path,
            "before": json.dumps(before, indent=2, sort_keys=True) + "\n",
            "after": json.dumps(after, indent=2, sort_keys=True) + "\n",
        })
    if plan.drop_in_changed:
        diffs.append({
            "before_header": drop_in_path,
            "after_header": drop_in_path,
            "before": mask_url(plan.drop_in_before or ""),
            "after": mask_url(plan.drop_in_after),
        })
    return diffs
