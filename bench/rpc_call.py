"""What one RPC call costs its caller, by how often calls come.

A private RabbitMQ (harness/rabbitmq.py), an oslo.messaging RPC server in a
process of its own (one ``ping`` endpoint), and a caller process that makes
N calls with a pause of G seconds after each; the caller's CPU during the
calls, less what it spends idle for as long, divided by N. Both use
nova_runtime.rpc's transport, server and client base (its context
serializer), as the daemons do.

Why: nova-compute's share of the boot storm (bench/boot_storm.py) is nearly
all oslo.messaging, and it grows when each compute gets its messages far
apart. After every message, oslo.messaging's consumers poll again after
1 ms, doubling the wait up to 5 s (amqpdriver's ACK_REQUEUE_EVERY_SECONDS_MIN
and MAX): a call that comes after a long pause pays for that burst of
wakeups.

    python bench/rpc_call.py [--gaps 0.05,0.2,1,2.5] [--calls 20]
"""

import argparse
import json
import os
import subprocess
import sys
import time

# The repository's root: the harness package (harness/) and bench/.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import nova_runtime  # noqa: E402,F401  first: it selects oslo.service's threading backend

import oslo_messaging as messaging  # noqa: E402

from nova_runtime import config, context as nova_context, rpc  # noqa: E402
from harness.rabbitmq import RabbitMQ  # noqa: E402

TOPIC = "bench-rpc-call"
WARM_UP_S = 6  # after the first call: the burst of wakeups it caused is over


class _Endpoint:
    target = messaging.Target(version="1.0")

    @rpc.expose
    def ping(self, context, value=None):
        return value


class _PingAPI(rpc.RPCAPI):
    TOPIC = TOPIC

    def ping(self, context, value):
        return self._prepare("1.0", server="s").call(context, "ping", value=value)


def _transport(url):
    conf = config.new_conf()
    config.load(conf, [], prog="bench-rpc-call", default_config_files=[])
    return rpc.get_transport(conf, url)


def serve(url):
    server = rpc.get_server(_transport(url), messaging.Target(topic=TOPIC, server="s"),
                            [_Endpoint()])
    server.start()
    while True:
        time.sleep(3600)


def call(url, gap, calls):
    """{gap_s, calls, cpu_ms_per_call} of this process as the caller."""
    client, context = _PingAPI(_transport(url)), nova_context.get_admin_context()
    client.ping(context, 0)
    time.sleep(WARM_UP_S)
    began_cpu, began = time.process_time(), time.monotonic()
    for index in range(calls):
        client.ping(context, index)
        time.sleep(gap)
    busy_cpu, elapsed = time.process_time() - began_cpu, time.monotonic() - began
    time.sleep(WARM_UP_S)
    idle_from = time.process_time()
    time.sleep(elapsed)
    idle_cpu = time.process_time() - idle_from
    return {"gap_s": gap, "calls": calls,
            "cpu_ms_per_call": round((busy_cpu - idle_cpu) * 1000 / calls, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gaps", default="0.05,0.2,1,2.5",
                        help="seconds between two calls, comma-separated")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--role", choices=["server", "caller"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--gap", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        serve(args.url)
    if args.role == "caller":
        print(json.dumps(call(args.url, args.gap, args.calls)))
        return
    rabbitmq = RabbitMQ().start()
    server = None
    try:
        me = [sys.executable, os.path.abspath(__file__), "--url", rabbitmq.url]
        server = subprocess.Popen(me + ["--role", "server"])
        results = []
        for gap in (float(text) for text in args.gaps.split(",")):
            done = subprocess.run(me + ["--role", "caller", "--gap", str(gap),
                                        "--calls", str(args.calls)],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"a call every {gap} s: {result['cpu_ms_per_call']} ms of the caller's CPU "
                  f"per call ({args.calls} calls)", flush=True)
            results.append(result)
        print(json.dumps({"python": sys.executable, "results": results}))
    finally:
        if server is not None:
            server.kill()
            server.wait()
        rabbitmq.destroy()


if __name__ == "__main__":
    main()
