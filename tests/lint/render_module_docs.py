"""Render every module in library/ with ansible-doc; fail on any that does not render.

Also checks that each documented option exists in the module's argument_spec and
the other way round, by comparing ansible-doc's JSON with the options the module
declares (read statically from its source).
"""
import ast
import json
import os
import subprocess
import sys


def argument_spec_keys(path):
    """Top-level keys of the ``argument_spec=dict(...)`` passed to AnsibleModule in ``path``."""
    with open(path, "rb") as handle:
        tree = ast.parse(handle.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "argument_spec":
            value = node.value
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "dict":
                return {kw.arg for kw in value.keywords}
            if isinstance(value, ast.Dict):
                return {key.value for key in value.keys}
    return None


def main(library):
    failures = 0
    names = sorted(name[:-3] for name in os.listdir(library) if name.endswith(".py"))
    for name in names:
        rendered = subprocess.run(["ansible-doc", "-M", library, "-t", "module", name],
                                  capture_output=True, text=True, check=False)
        if rendered.returncode != 0 or "OPTIONS" not in rendered.stdout and "ADDED IN" not in rendered.stdout:
            print("%s: ansible-doc failed to render:\n%s" % (name, rendered.stderr.strip()))
            failures += 1
            continue
        as_json = subprocess.run(["ansible-doc", "-M", library, "-t", "module", "--json", name],
                                 capture_output=True, text=True, check=True)
        doc = json.loads(as_json.stdout)[name]["doc"]
        documented = set((doc.get("options") or {}).keys())
        declared = argument_spec_keys(os.path.join(library, name + ".py"))
        if declared is not None and declared != documented:
            print("%s: options documented %s but declared %s" % (name, sorted(documented), sorted(declared)))
            failures += 1
        else:
            print("%s: rendered, %d options" % (name, len(documented)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "library"))
