"""Reading a job's log for who held it when: the lease notes (jobs.leases) say when a
worker started a job, when it ended it, and when it was declared lost and the job taken over.
A job run twice at once shows as a second `started` before the first holder's end."""

import re

NOTE = re.compile(r"worker (?P<owner>\S+) (?P<what>started the job|ended the job|lost:)")


def holders(messages) -> list[str]:
    """The workers that held the job, in order; AssertionError if two held it at once, or if a
    holder's end names another worker."""
    held_by, history = None, []
    for message in messages:
        found = NOTE.search(message)
        if not found:
            continue
        owner, what = found["owner"], found["what"]
        if what == "started the job":
            assert held_by is None, f"{owner} started the job while {held_by} held it"
            held_by = owner
            history.append(owner)
        else:
            assert held_by == owner, f"{owner} {what} the job, but {held_by} held it"
            held_by = None
    assert held_by is None, f"{held_by} still holds the job"
    return history
