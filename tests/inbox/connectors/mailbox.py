"""A recorded IMAP mailbox and the e-mails it holds (tests/fixtures/email), as the IMAP poller meets them."""

from tests.helpers import FIXTURES


def eml(name: str) -> bytes:
    return (FIXTURES / "email" / name).read_bytes().replace(b"\n", b"\r\n")


class RecordedMailbox:
    """Answers the IMAP commands the poller sends, as an IMAP server would, from recorded messages."""

    def __init__(self, messages: dict[int, bytes], *, uidvalidity: int = 7):
        self.messages, self.uidvalidity = messages, uidvalidity
        self.sizes: dict[int, int] = {}  # what the server claims, where it differs from the real size
        self.fetched: list[str] = []
        self.logged_out = False

    def select(self, mailbox, readonly=False):
        return "OK", [str(len(self.messages)).encode()]

    def response(self, code):
        return code, [str(self.uidvalidity).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            first = int(args[1].split()[1].split(":")[0])
            # As real servers do, "n:*" also returns the highest UID when it is below n.
            uids = [uid for uid in sorted(self.messages) if uid >= first] or sorted(self.messages)[-1:]
            return "OK", [" ".join(map(str, uids)).encode()]
        if command == "FETCH" and args[1] == "(UID RFC822.SIZE)":
            sizes = {uid: self.sizes.get(uid, len(self.messages[uid])) for uid in map(int, args[0].split(","))}
            return "OK", [f"{uid} (UID {uid} RFC822.SIZE {size})".encode() for uid, size in sizes.items()]
        if command == "FETCH":
            self.fetched.append(args[0])
            data = []
            for uid in map(int, args[0].split(",")):
                data += [(f"{uid} (UID {uid} RFC822 {{{len(self.messages[uid])}}}".encode(), self.messages[uid]), b")"]
            return "OK", data
        raise AssertionError(f"unexpected IMAP command {command}")

    def logout(self):
        self.logged_out = True
