"""A string that names a variable in braces but lacks its f prefix prints the braces instead of the value
("not a {self._product} webhook"). This reads the whole shared layer and fails on any plain string,
inside a function, holding {name} (or {name.attr}, {name[...]}, with a conversion or format spec) where
`name` is an argument or local of that function, unless the string is the receiver of .format()."""

import ast
import re

from tests.support.paths import REPO_ROOT

LAYER = REPO_ROOT / "layers" / "switchboard" / "switchboard"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:[.\[][^{}]*)?(?:![rsa])?(?::[^{}]*)?\}")


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    arguments = function.args
    names = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    names |= {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return names


def plain_strings_naming_locals(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
        names = _local_names(function)
        for node in ast.walk(function):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            parent = parents.get(node)
            if isinstance(parent, ast.JoinedStr) or (
                isinstance(parent, ast.Attribute) and parent.attr in ("format", "format_map")
            ):
                continue
            if any(match.group(1) in names for match in _PLACEHOLDER.finditer(node.value)):
                found.append((node.lineno, node.value))
    return found


def test_the_lint_catches_the_missing_f_prefix():
    # Given the defect as it was found in meta_messaging.parse
    source = 'def parse(self):\n    with payload_errors("a {self._product} webhook"):\n        pass\n'
    # Then the lint names it, and leaves f-strings and .format() templates alone
    assert plain_strings_naming_locals(source) == [(2, "a {self._product} webhook")]
    assert plain_strings_naming_locals('def f(x):\n    return f"{x}" + "{x}".format(x=x) + "{y}"\n') == []


def test_no_string_in_the_layer_names_a_local_without_an_f_prefix():
    # Given every module of the shared layer
    offenders = {
        f"{path.relative_to(LAYER)}:{line}": text
        for path in sorted(LAYER.rglob("*.py"))
        for line, text in plain_strings_naming_locals(path.read_text(encoding="utf-8"))
    }
    # Then none holds a {placeholder} that was meant to be an f-string
    assert offenders == {}
