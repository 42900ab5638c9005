"""The per-container wiring forgets everything it built on `reset()`, so tests that switch environments
never see a client or a setting of the previous one."""

import ast
import inspect

from switchboard import runtime


def test_every_cached_builder_of_the_runtime_is_forgotten_by_reset():
    # Given every function of the runtime module that caches what it builds
    tree = ast.parse(inspect.getsource(runtime))
    decorated = {
        node.name: [ast.unparse(d) for d in node.decorator_list]
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.decorator_list
    }
    # Then each caches through @wired, which registers it with reset(), and none through functools directly
    assert decorated and all(decorators == ["wired"] for decorators in decorated.values()), decorated
    assert {cached.__wrapped__.__name__ for cached in runtime._WIRED} == set(decorated)


def test_reset_forgets_settings_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ROLES_CLAIM", "scope")
    runtime.reset()
    assert runtime.access_settings().roles_claim == "scope"
    monkeypatch.setenv("ROLES_CLAIM", "cognito:groups")
    assert runtime.access_settings().roles_claim == "scope"  # cached, as in a warm container
    runtime.reset()
    assert runtime.access_settings().roles_claim == "cognito:groups"
