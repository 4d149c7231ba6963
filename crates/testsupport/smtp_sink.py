"""A real SMTP server (aiosmtpd) on loopback for tests: each message received
is written to OUT_DIR as NNN.eml. Recipients whose local part starts with
"nosuchuser" are refused with 550 5.1.1, as a real mailbox provider would.
Prints READY once it listens."""
import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("nosuchuser"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out_dir, "%03d.eml" % self.n)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    c = Controller(Sink(out_dir), hostname="127.0.0.1", port=port)
    c.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
