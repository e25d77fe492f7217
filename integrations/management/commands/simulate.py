import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand

from integrations.simulators.app import build_app
from integrations.simulators.server import Faults, start_server


class Command(BaseCommand):
    help = "Serve local simulators of Taobao, JD, Shopify, the DingTalk/WeCom robots and Aliyun SMS."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--orders-per-day", type=int, default=2000, help="Taobao's rate; JD and Shopify get less")
        parser.add_argument("--orders-file", type=Path, help="JSON list of raw orders to serve from Taobao too")
        parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 5xx")
        parser.add_argument("--throttle-rate", type=float, default=0.0, help="fraction answered with a rate limit")
        parser.add_argument("--garbage-rate", type=float, default=0.0, help="fraction answered with broken JSON")
        parser.add_argument("--timeout-rate", type=float, default=0.0, help="fraction answered only after 2 s")
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--modify-between-pages", action="store_true")
        parser.add_argument("--duplicate-across-pages", action="store_true")

    def handle(self, *args, **options):
        faults = Faults(
            error_rate=options["error_rate"],
            throttle_rate=options["throttle_rate"],
            garbage_rate=options["garbage_rate"],
            timeout_rate=options["timeout_rate"],
            latency_ms=options["latency_ms"],
            modify_between_pages=options["modify_between_pages"],
            duplicate_across_pages=options["duplicate_across_pages"],
        )
        app = build_app(orders_per_day=options["orders_per_day"], orders_file=options["orders_file"], faults=faults)
        server, url = start_server(app, options["host"], options["port"])
        self.stdout.write(f"Simulators at {url}: /taobao/router/rest /jd/routerjson /shopify/admin/api/…/graphql.json")
        self.stdout.write(
            f"  robots: /dingtalk/robot/send /wecom/cgi-bin/webhook/send /aliyun-sms/; knobs: {url}/_control/faults"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        server.shutdown()
