"""Runs every benchmark and prints one compact report."""

from __future__ import annotations

import contextlib
import platform
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version

import boto3
from moto import mock_aws

from bench import (
    channel_cpu,
    cold_start,
    cost,
    dynamodb_cost,
    email_adversarial,
    email_cost,
    email_parse,
    large_delivery,
    notification_cost,
    notifications,
    replies,
    reply_cost,
    sla,
    sla_cost,
    webhook_cpu,
    writer_throughput,
)
from infra import moto_atomic
from infra.fakes.providers import FakeProviders
from infra.provision import REGION, Stack, provision
from tests.support.drivers import DRIVERS

UNITS_METHOD = """\
   Units are computed, not reported (moto returns no ConsumedCapacity), with DynamoDB's sizing rules:
   item size = attribute name + value bytes; a table write costs ceil(max(size before, after) / 1 KB),
   x2 inside a transaction; each index entry put, updated or deleted ceil(entry size / 1 KB); a strongly
   consistent read ceil(size / 4 KB), 1 for a missing item. A cancelled transaction shows no units.
   On-demand bills these numbers as request units."""

MOTO_TRANSACTIONS = """\
   moto deep-copies the table once per transaction item (to roll back), so its transactions slow down
   as the table grows; the ratio says more about moto than about DynamoDB."""


def _stack(session, name: str):
    # The channels' sample secrets, which the drivers sign deliveries with.
    return provision(session, prefix=f"bench-{name}", seed={driver.name: dict(driver.secrets) for driver in DRIVERS})


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x"


def _cost_table(costs: list[dynamodb_cost.CostRow]) -> None:
    print(f"   {'case':<32} {'requests':>8} {'items written':>14} {'WCU table':>10} {'WCU GSI':>8} {'RCU':>4}  calls")
    for row in costs:
        cost = row.cost
        note = f"  ({', '.join(cost.failed)}: already stored)" if cost.failed else ""
        print(
            f"   {row.case:<32} {cost.requests:>8} {cost.items_written:>14} {cost.table_write_units:>10}"
            f" {cost.index_write_units:>8} {cost.read_units:>4}  {', '.join(cost.operations)}{note}"
        )


def _report_dynamodb(costs: list[dynamodb_cost.CostRow]) -> None:
    print("\n1. DynamoDB per inbound message (writer handler; requests counted by a botocore before-call hook)")
    _cost_table(costs)
    print(UNITS_METHOD)


def _request_table(rows: list[email_cost.RequestRow]) -> None:
    for row in rows:
        calls = ", ".join(f"{operation} x{count}" for operation, count in sorted(row.calls.items()))
        print(f"   {row.case:<32} {row.requests:>8}  {calls}")


def _report_email_costs(costs: email_cost.EmailCosts) -> None:
    print("\n1b. DynamoDB per inbound mail (writer handler; each mail through the mail bucket and email_inbound")
    print("    as deployed; counted and sized as in 1)")
    _cost_table(costs.writer)
    print("    The redelivery is the same Message-ID arriving again (SES and a forwarding provider): refused by the")
    print("    writer's conditions, nothing written.")
    print("\n   email_inbound: every AWS request per mail (botocore before-call hook on all its clients)")
    print(f"   {'mail':<32} {'requests':>8}  calls")
    _request_table(costs.intake)
    photo, receipt = (len(data) // 1024 for _, _, data in (email_cost.PHOTO, email_cost.RECEIPT))
    print(f"    Attachments ({photo} KB and {receipt} KB here) are one PutObject each below boto3's 8 MB multipart")
    print("    threshold; an HTML body would be one more. No secret read unless a recipient is a +token reply address.")
    print("\n   mail webhooks: every AWS request per delivery, warm container (mail that comes through a provider")
    print("   instead of SES; email_inbound and the writer then do as above; a cold container also reads its secret)")
    print(f"   {'webhook':<32} {'requests':>8}  calls")
    _request_table(costs.webhooks)
    print("    Mailgun's PutItem claims its signed one-time token (a conditional put), so a replayed post is refused.")


def _report_webhook(cpu: webhook_cpu.WebhookCpu) -> None:
    print(f"\n2. Webhook CPU per request ({cpu.requests:,} requests, {cpu.body_bytes}-byte signed text delivery)")
    print(f"   {'time.process_time_ns per call':<46} {'p50 us':>8} {'p99 us':>8}  {'p50 ratio':>9}  {'p99 ratio':>9}")
    rows = (
        ("handler as deployed (Powertools, no-op queue)", cpu.handler),
        ("logic only: verify + parse + enqueue call", cpu.logic),
        ("baseline: hmac sha256 hexdigest + json.loads", cpu.baseline),
    )
    for label, figures in rows:
        print(
            f"   {label:<46} {figures.p50_us:>8.1f} {figures.p99_us:>8.1f}"
            f"  {_ratio(figures.p50_us, cpu.baseline.p50_us):>9}  {_ratio(figures.p99_us, cpu.baseline.p99_us):>9}"
        )


def _report_channels(rows: list[channel_cpu.ChannelCpu | channel_cpu.Skipped]) -> None:
    print(
        "\n2b. Webhook CPU per request, every channel (handler as deployed, no-op queue or mail bucket;"
        " 3,000 requests each)"
    )
    print("    baseline: hmac sha256 over the body + decoding it (json.loads, parse_qsl for form posts, a split at the")
    print("    boundary for multipart/form-data). Mail rows: a one-paragraph Korean mail as each provider posts it;")
    print(
        f"    {channel_cpu.SIGNED_SENDGRID}: SendGrid with a security policy, its ECDSA P-256 signature checked besides basic auth."
    )
    print(
        f"   {'channel':<12} {'body B':>7} {'p50 us':>8} {'p99 us':>8} {'base p50':>9} {'base p99':>9}"
        f"  {'p50 ratio':>9}  {'p99 ratio':>9}"
    )
    for row in rows:
        if isinstance(row, channel_cpu.Skipped):
            print(f"   {row.channel:<12} skipped: {row.reason}")
            continue
        print(
            f"   {row.channel:<12} {row.body_bytes:>7} {row.handler.p50_us:>8.1f} {row.handler.p99_us:>8.1f}"
            f" {row.baseline.p50_us:>9.1f} {row.baseline.p99_us:>9.1f}"
            f"  {_ratio(row.handler.p50_us, row.baseline.p50_us):>9}"
            f"  {_ratio(row.handler.p99_us, row.baseline.p99_us):>9}"
        )


def _report_mail_webhooks(rows: list[channel_cpu.ChannelCpu | channel_cpu.Skipped]) -> None:
    mail = [row for row in rows if isinstance(row, channel_cpu.ChannelCpu) and row.logic is not None]
    print("\n2c. Mail webhooks: verify + extract alone (the proof, then the raw mail out of the provider's body), same")
    print("    requests and baseline as 2b; the rest of the handler is Powertools and one S3 put of the mail")
    print(
        f"   {'webhook':<12} {'p50 us':>8} {'p99 us':>8} {'base p50':>9} {'base p99':>9}"
        f"  {'p50 ratio':>9}  {'p99 ratio':>9}  {'of handler p50':>14}"
    )
    for row in mail:
        logic = row.logic
        print(
            f"   {row.channel:<12} {logic.p50_us:>8.1f} {logic.p99_us:>8.1f}"
            f" {row.baseline.p50_us:>9.1f} {row.baseline.p99_us:>9.1f}"
            f"  {_ratio(logic.p50_us, row.baseline.p50_us):>9}  {_ratio(logic.p99_us, row.baseline.p99_us):>9}"
            f"  {logic.p50_us / row.handler.p50_us:>14.0%}"
        )
    print("    Postmark posts its own parse of the mail (JSON), which extract rebuilds into MIME; SendGrid's multipart")
    print("    form is read by the stdlib email parser; Mailgun's urlencoded form by parse_qsl.")


def _report_parse(figures: list[email_parse.ParseFigures]) -> None:
    plain = figures[0]
    print(
        f"\n5. MIME parse, parse_mail (median of {email_parse.ROUNDS} rounds, each"
        f" {email_parse.PLAIN_PER_ROUND} x the plain mail and 1 x each big one; time.process_time_ns)"
    )
    print(
        f"   {'mail':<24} {'size KB':>8} {'files':>5} {'ms/mail':>8} {'us/KB':>7} {'us/KB vs plain':>15}"
        f" {'peak MB':>8} {'peak/size':>9}"
    )
    for row in figures:
        print(
            f"   {row.mail:<24} {row.size_bytes / 1024:>8.1f} {row.attachments:>5} {row.median_ms:>8.2f}"
            f" {row.us_per_kb:>7.1f} {_ratio(row.us_per_kb, plain.us_per_kb):>15}"
            f" {row.peak_bytes / email_parse.MB:>8.2f} {row.peak_per_size:>8.1f}x"
        )
    print("   Peak: tracemalloc's peak during one parse, beyond the raw mail already in memory; it includes the result")
    print("   (attachments decoded to bytes). A small mail's per-KB figures are mostly the fixed cost of a parse.")


def _report_imports(imports: list[cold_start.ImportTime]) -> None:
    baseline_ms = next(entry.median_ms for entry in imports if entry.target == cold_start.BASELINE)
    print(f"\n3. Cold import in a fresh interpreter (median of {cold_start.ROUNDS}, bytecode cached)")
    print(f"   {'target':<32} {'ms':>8}  {'vs ' + cold_start.BASELINE:>22}")
    for entry in imports:
        print(f"   {entry.target:<32} {entry.median_ms:>8.1f}  {_ratio(entry.median_ms, baseline_ms):>22}")


def _report_throughput(throughput: writer_throughput.Throughput) -> None:
    print(
        f"\n4. Writer throughput on moto in-process ({throughput.messages} messages from {throughput.customers}"
        f" customers, SQS batches of {writer_throughput.SQS_BATCH_SIZE}, interleaved with the baseline)"
    )
    print(f"   {'writer handler':<32} {throughput.writer_per_second:>8.0f} messages/s")
    print(f"   {'bare put_item loop, same items':<32} {throughput.put_item_per_second:>8.0f} items/s")
    print(f"   {'writer / put_item':<32} {_ratio(throughput.writer_per_second, throughput.put_item_per_second):>8}")
    share = throughput.writer_seconds_in_dynamodb / throughput.writer_seconds
    outside_ms = (throughput.writer_seconds - throughput.writer_seconds_in_dynamodb) / throughput.messages * 1000
    print(f"   writer time inside DynamoDB calls (botocore + moto): {share:.0%}; outside: {outside_ms:.2f} ms/message")
    print(MOTO_TRANSACTIONS)


def _measure_cost(session) -> cost.Measured:
    return cost.measure(_stack(session, "allin"), _stack(session, "allin-units"))


def _measure_replies(session, fakes: FakeProviders) -> tuple[replies.ReplyUnits, cost.ReplyMeasured, Stack]:
    """The replies' DynamoDB units (8a) and the cost of 1 M replies (7b), each on its own stack whose sender talks
    to `fakes`; returns the stack the cost is priced against too."""
    units_stack = replies.provision_for_replies(session, "reply-units", fakes.template_parameters())
    fakes.use_channel_secrets(units_stack.channel_secrets)
    units = replies.measure_units(units_stack, fakes)
    cost_stack = replies.provision_for_replies(session, "reply-cost", fakes.template_parameters())
    fakes.use_channel_secrets(cost_stack.channel_secrets)
    return units, reply_cost.measure(cost_stack, fakes, units), cost_stack


def _measure_sla_cost(session) -> tuple[sla_cost.SlaMeasured, Stack]:
    """9c on its own stacks (one without a policy, one with), whose enforcer's notify webhooks reach fake providers
    of their own; returns the stack the cost is priced against too."""
    with _fake_providers() as fakes:
        without_policy, with_policy = sla_cost.provision_stacks(session, fakes)
        return sla_cost.measure(session, without_policy, with_policy, fakes), with_policy


def _report_sla(
    sweeps: sla.SweepFigures,
    delays: sla.LocalDelays | sla.SkippedDelays,
    costs: sla_cost.SlaMeasured,
    table: sla_cost.SlaCostTable,
    stack: Stack,
) -> None:
    from switchboard.tickets.sla_enforcer import NOTICE_BUDGET_SECONDS

    sla.report_sweeps(sweeps)
    sla.report_delays(
        delays,
        empty_sweep_ms=table.sweep_billed_ms,
        record_ms=table.warning_billed_ms,
        breach_ms=table.breach_billed_ms,
        notice_budget_seconds=NOTICE_BUDGET_SECONDS,
        provider_ms=cost.PROVIDER_SEND_MS,
    )
    sla_cost.print_report(costs, stack)


def _sla_row(table: sla_cost.SlaCostTable):
    return table.per_message_row(cost.MESSAGES_PER_CUSTOMER, cost.MESSAGES_PER_MONTH)


def _measure_notifications(session) -> notifications.NotificationSection:
    """Section 10 on stacks of its own: the burst and the channels' sends against fake providers in a child process,
    the DynamoDB units and the cost's round trip against in-process ones (whose receipts the bench posts)."""
    started = time.perf_counter()
    with replies.provider_process() as provider:
        burst = notifications.measure_burst(session, provider.template_parameters)
        live = notifications.measure_live_runs(session, provider)
    with _fake_providers() as fakes:
        units = notifications.measure_units(session, fakes)
        costs, cost_stack = notification_cost.measure(session, fakes)
    schedule = notifications.measure_scheduler(session)
    return notifications.NotificationSection(
        burst, live, units, costs, cost_stack, schedule, time.perf_counter() - started
    )


def _report_notifications(section: notifications.NotificationSection) -> None:
    table = notification_cost.model(section.cost, section.units, section.cost_stack)
    notifications.report_sends(section, table.billed_ms)
    notifications.report_units(section.units)
    segments = max((run.sms_segments for run in section.live), default=0)
    notification_cost.print_report(section.cost, section.units, section.cost_stack, segments)
    notifications.report_schedule(section.schedule)
    print(f"    (section 10 took {section.seconds:.0f} s)")


@contextlib.contextmanager
def _fake_providers() -> Iterator[FakeProviders]:
    fakes = FakeProviders().start()
    try:
        yield fakes
    finally:
        fakes.stop()


def main_cost() -> None:
    """`python -m bench cost`: the all-in cost tables alone (7, 7b and 9c)."""
    with mock_aws(), _fake_providers() as fakes:
        moto_atomic.install()
        session = boto3.Session(region_name=REGION)
        sla_costs, sla_stack = _measure_sla_cost(session)
        sla_row = _sla_row(sla_cost.model(sla_costs, sla_stack))
        cost.print_report(_measure_cost(session), _stack(session, "allin-model"), sla=sla_row)
        _, reply_costs, reply_stack = _measure_replies(session, fakes)
        cost.print_reply_report(reply_costs, reply_stack)
        sla_cost.print_report(sla_costs, sla_stack)


def main_sla() -> None:
    """`python -m bench sla`: section 9 alone (the enforcer's reads per sweep, the local stack's deadline-to-action
    delays, the cost of SLA per 1 M tickets)."""
    started = time.perf_counter()
    with mock_aws():
        moto_atomic.install()
        session = boto3.Session(region_name=REGION)
        sweeps = sla.measure_sweeps(session)
        sla_costs, sla_stack = _measure_sla_cost(session)
    delays = sla.measure_local_delays()
    _report_sla(sweeps, delays, sla_costs, sla_cost.model(sla_costs, sla_stack), sla_stack)
    print(f"\nSection 9 took {time.perf_counter() - started:.0f} s")


def main_notifications() -> None:
    """`python -m bench notifications`: section 10 alone (the sale-day burst, DynamoDB and the AWS cost per
    notification, the scheduler's reads)."""
    with mock_aws():
        moto_atomic.install()
        section = _measure_notifications(boto3.Session(region_name=REGION))
    _report_notifications(section)


def main() -> None:
    if sys.argv[1:] == ["cost"]:
        return main_cost()
    if sys.argv[1:] == ["sla"]:
        return main_sla()
    if sys.argv[1:] == ["notifications"]:
        return main_notifications()
    started = time.perf_counter()
    with mock_aws():
        moto_atomic.install()
        session = boto3.Session(region_name=REGION)
        costs = dynamodb_cost.measure(_stack(session, "cost"))
        email_costs = email_cost.measure(_stack(session, "mail"))
        cpu = webhook_cpu.measure(_stack(session, "webhook"))
        channels = channel_cpu.measure(_stack(session, "channels"))
        throughput = writer_throughput.measure(_stack(session, "throughput"))
        imports = cold_start.measure(_stack(session, "imports"))
        all_in = _measure_cost(session)
        all_in_stack = _stack(session, "allin-model")
        replies_started = time.perf_counter()
        with _fake_providers() as fakes, replies.provider_process() as provider:
            reply_units, reply_costs, reply_stack = _measure_replies(session, fakes)
            reply_figures = replies.measure(session, provider, reply_units)
        replies_seconds = time.perf_counter() - replies_started
        notification_section = _measure_notifications(session)
        sla_started = time.perf_counter()
        sla_sweeps = sla.measure_sweeps(session)
        sla_costs, sla_stack = _measure_sla_cost(session)
    # The local stack runs in a process of its own, with its own moto: outside this process's mock.
    sla_delays = sla.measure_local_delays()
    sla_seconds = time.perf_counter() - sla_started
    sla_table = sla_cost.model(sla_costs, sla_stack)
    parse = email_parse.measure()
    adversarial = email_adversarial.measure()

    print(
        f"Switchboard bench: Python {platform.python_version()} on {platform.machine()},"
        f" moto {version('moto')} in-process, boto3 {version('boto3')}."
        " Every figure is measured next to its baseline in this run."
    )
    _report_dynamodb(costs)
    _report_email_costs(email_costs)
    _report_webhook(cpu)
    _report_channels(channels)
    _report_mail_webhooks(channels)
    _report_imports(imports)
    _report_throughput(throughput)
    _report_parse(parse)
    email_adversarial.report(adversarial)
    large_delivery.report(large_delivery.measure())
    cost.print_report(all_in, all_in_stack, sla=_sla_row(sla_table))
    cost.print_reply_report(reply_costs, reply_stack)
    replies.report(reply_figures)
    print(f"    (sections 7b and 8 took {replies_seconds:.0f} s)")
    _report_sla(sla_sweeps, sla_delays, sla_costs, sla_table, sla_stack)
    print(f"    (section 9 took {sla_seconds:.0f} s)")
    _report_notifications(notification_section)
    print(f"\nTotal bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
