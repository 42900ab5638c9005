"""X-Ray tracing is the operator's switch: by default no function records traces of its own, since Lambda's
Active tracing records the first request each second and 5 % of the rest whatever sampling rule says so, which
at a support team's rates is most messages and the largest line of the bill (make bench, section 6)."""

from __future__ import annotations

from infra.template import resources_of_type


def test_functions_record_no_traces_unless_the_operator_turns_tracing_on(template, translated):
    # Given the template as sam deploy submits it
    lambdas = resources_of_type(translated, "AWS::Lambda::Function")
    assert lambdas
    # When each function's tracing mode is read
    modes = {
        logical_id: body["Properties"].get("TracingConfig", {}).get("Mode") for logical_id, body in lambdas.items()
    }
    # Then every function takes it from one parameter, which defaults to PassThrough and offers Active
    assert set(map(str, modes.values())) == {str({"Ref": "TracingMode"})}, modes
    parameter = template["Parameters"]["TracingMode"]
    assert parameter["Default"] == "PassThrough"
    assert set(parameter["AllowedValues"]) == {"Active", "PassThrough"}
