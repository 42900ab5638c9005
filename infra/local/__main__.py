"""`python -m infra.local` (make run): the whole stack on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import time


def main() -> int:
    from infra.local.banner import banner
    from infra.local.notifications import write_shopify_sample
    from infra.local.runner import LocalRunner, RunnerSettings, SettingsError, StartupError
    from infra.local.samples import write_whatsapp_sample

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    # boto3 announces where it found credentials and endpoints on every client; that is noise here.
    logging.getLogger("botocore").setLevel(logging.WARNING)
    log = logging.getLogger("switchboard.local")
    try:
        settings = RunnerSettings.from_env()
    except SettingsError as exc:
        print(f"switchboard local: {exc}", file=sys.stderr)
        return 2

    signals: list[int] = []
    # The handler only records the request: taking locks inside a signal handler can deadlock the
    # very thread it interrupted, so the main loop below does the stopping.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: signals.append(received))

    runner = LocalRunner(settings)
    try:
        runner.start()
        state = runner.state()
        whatsapp = state["secrets"].get("whatsapp") or {}
        sample = write_whatsapp_sample(settings.state_dir, whatsapp["app_secret"]) if "app_secret" in whatsapp else None
        shopify = state["secrets"].get("shopify") or {}
        shop_sample = (
            write_shopify_sample(settings.state_dir, shopify["client_secret"]) if "client_secret" in shopify else None
        )
        print(banner(state, runner.state_path, sample, settings.redelivery_seconds, shop_sample), flush=True)
        while not signals:
            time.sleep(0.2)
        log.info("stopping (%s)", signal.Signals(signals[0]).name)
    except StartupError as exc:
        print(f"switchboard local: could not start: {exc}", file=sys.stderr)
        runner.stop()
        return 1
    except Exception:
        log.exception("switchboard local: could not start")
        runner.stop()
        return 1
    runner.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
