"""A real SMTP server (aiosmtpd) on loopback for tests: each message received
is written to OUT_DIR as NNN.eml. Recipients whose local part starts with
"nosuchuser" are refused with 550 5.1.1, as a real mailbox provider would;
those starting with "spamhaus" are refused the way a Postfix using Spamhaus
ZEN refuses a listed client, and those starting with "yahoo" get Yahoo's
TSS04 deferral, both naming the connecting client's IP.
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
        local = address.lower()
        ip = session.peer[0]
        if local.startswith("nosuchuser"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local.startswith("spamhaus"):
            return ("554 5.7.1 Service unavailable; Client host [%s] blocked using zen.spamhaus.org; "
                    "https://www.spamhaus.org/query/ip/%s" % (ip, ip))
        if local.startswith("yahoo"):
            return ("421 4.7.0 [TSS04] Messages from %s temporarily deferred due to unexpected volume "
                    "or user complaints - 4.16.55.1; see https://postmaster.verizonmedia.com/error-codes" % ip)
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
