"""Host configuration run again on a configured host (a retry, a resumed job, a repair): it
checks with bash and batches its changes (one iptables-restore, one ip -batch), so what must
hold is that a second run changes nothing that is right, adds only what is missing, never
empties the VMs' forwarding chain, and keeps FRR running unless its configuration changed."""

import pytest

from hostexec.keys import generate_ed25519
from hostexec.ssh import HostSession
from provisions import hostconfig
from provisions.hostconfig import evpn
from tests.lab.helpers import cloud_config

pytestmark = pytest.mark.lab

ADDRESS, PRIVATE = "198.18.9.21", "10.60.0.21"
FORWARD = (
    "-A ONE-PORTFWD -d 198.18.9.21/32 -p tcp -m tcp --dport 9080"
    " -j DNAT --to-destination 192.168.150.9:80"
)


@pytest.fixture
def host(lab_hosts):
    client_key, host_key = generate_ed25519("portal"), generate_ed25519("host")
    lab_hosts.create(
        droplet_id=21,
        name="rerun",
        public_ip=ADDRESS,
        private_ip=PRIVATE,
        private_prefix=20,
        vpc_uuid="cccccccc-0000",
        authorized_keys=[client_key.public_openssh],
        user_data=cloud_config(host_key),
    )
    with HostSession(
        ADDRESS, private_key=client_key.private_openssh, host_key=host_key.public_openssh
    ) as session:
        session.connect(wait=10)
        yield session
        evpn.teardown(session)


def our_rules(session) -> list[str]:
    saved = session.run("iptables-save").stdout.splitlines()
    return [line for line in saved if "ONE-" in line]


def apply(session, monkeypatch, vnis, port=evpn.VXLAN_PORT, peers=()):
    """evpn.apply as the deploy calls it; returns what it logged (its FRR and VXLAN lines)."""
    monkeypatch.setattr(evpn, "VXLAN_PORT", port)
    me = evpn.Peer("rerun", PRIVATE)
    lines = []
    evpn.apply(session, me, [me, *peers], vnis, log=lines.append)
    return "\n".join(lines)


def pids(session) -> str:
    return session.run(
        "cat $ONE_EDGE_BASE/frr/run/zebra.pid $ONE_EDGE_BASE/frr/run/bgpd.pid"
    ).stdout


def test_setup_again_adds_only_what_is_missing_and_keeps_the_vms_forwards(host):
    first = hostconfig.configure(host)
    assert "IPTABLES added" in first.output
    rules = our_rules(host)
    assert "-A ONE-MASQ -s 192.168.150.0/24 -o eth0 -j MASQUERADE" in rules
    assert len(rules) == len(set(rules)), rules

    # A VM's forward in the chain, and one of the set-up's own rules lost (an operator's flush).
    host.run(f"iptables -t nat {FORWARD}")
    host.run("iptables -D ONE-FORWARD -i onebr0 -j ACCEPT")
    second = hostconfig.configure(host)
    assert "IPTABLES added what was missing: -A ONE-FORWARD -i onebr0 -j ACCEPT" in second.output
    again = our_rules(host)
    assert FORWARD in again, "re-running the set-up emptied the VMs' forwarding chain"
    assert sorted(again) == sorted([*rules, FORWARD])

    third = hostconfig.configure(host)
    assert "IPTABLES" not in third.output
    assert sorted(our_rules(host)) == sorted(again)
    assert (first.cpu, first.memory_mb) == (third.cpu, third.memory_mb)
    assert "TIMES " in third.output
    version = host.run("lxc-start --version").stdout.strip()
    assert f"LXC_VERSION {version}" in first.output and f"LXC_VERSION {version}" in third.output


def test_private_networking_again_keeps_frr_and_follows_the_vnis(host, monkeypatch):
    hostconfig.configure(host)
    out = apply(host, monkeypatch, [100])
    assert "FRR bgpd (re)started" in out and "FRR up (zebra, bgpd) VNIs 100" in out
    version = host.run("/usr/lib/frr/bgpd --version").stdout.split()[2]
    assert f"FRR {version} mode=standalone" in out  # read from the log of the zebra it started
    helper = host.run("$ONE_EDGE_BASE/frr/vtysh -c 'show bgp l2vpn evpn vni'", check=False)
    assert helper.exit_status == 0, helper
    started = pids(host)

    out = apply(host, monkeypatch, [100, 200])
    assert "(re)started" not in out and pids(host) == started
    assert f"FRR {version} mode=standalone" in out  # from the file the first run kept
    links = host.run("ip -d -o link show type vxlan").stdout
    assert "vxlan100" in links and "vxlan200" in links and "nolearning" in links
    assert "master onevx200" in host.run("ip -o link show vxlan200").stdout

    # A device that no longer matches (another port) is replaced; a dropped VNI goes.
    out = apply(host, monkeypatch, [200], port=4790)
    assert "VXLAN replaced vxlan200" in out and "VXLAN removed vxlan100" in out
    assert "dstport 4790 " in host.run("ip -d -o link show vxlan200").stdout
    assert "vxlan100" not in host.run("ip -o link").stdout

    # FRR killed behind the portal's back is started again.
    host.run("kill -9 $(cat $ONE_EDGE_BASE/frr/run/bgpd.pid)")
    out = apply(host, monkeypatch, [200], port=4790)
    assert "FRR bgpd (re)started" in out and pids(host) != started

    # A new peer changes frr.conf: bgpd (only) is restarted with it, zebra keeps running.
    before = pids(host).split()
    out = apply(host, monkeypatch, [200], port=4790, peers=[evpn.Peer("other", "10.60.0.22")])
    after = pids(host).split()
    assert "FRR bgpd (re)started" in out
    assert after[0] == before[0] and after[1] != before[1]
    assert "neighbor 10.60.0.22" in host.run("cat $ONE_EDGE_BASE/frr/frr.conf").stdout


def test_private_networking_refuses_an_address_the_host_does_not_have(host, monkeypatch):
    hostconfig.configure(host)
    me = evpn.Peer("rerun", "10.60.0.99")
    with pytest.raises(hostconfig.HostConfigError) as refused:
        evpn.apply(host, me, [me], [100])
    assert "10.60.0.99 (the VPC address) is not on this host" in str(refused.value)
    assert f"{PRIVATE}/20" in str(refused.value)  # what it has, to fix it by
    assert "vxlan100" not in host.run("ip -o link").stdout  # and nothing was changed


FAKE_SYSTEMCTL = """#!/bin/bash
# systemctl as the FRR service path uses it, recording each call.
echo "systemctl $*" >> "$FAKE/calls"
case "$1" in
    enable) mkdir -p "$ONE_SYSTEMD_ETC/multi-user.target.wants"
            ln -sf /lib/systemd/system/frr.service \\
                "$ONE_SYSTEMD_ETC/multi-user.target.wants/frr.service" ;;
    is-active) [ -e "$FAKE/active" ] ;;
    restart|reload) touch "$FAKE/active" ;;
esac
"""
FAKE_VTYSH = """#!/bin/bash
echo "vtysh $*" >> "$FAKE/calls"
printf 'VNI        Type VxLAN IF              # MACs   # ARPs   # Remote VTEPs  Tenant VRF\\n'
printf '100        L2   vxlan100              0        0        0               default\\n'
"""


def test_the_service_path_changes_and_asks_only_when_something_changed(host, tmp_path):
    """The droplets' path (FRR as the distribution's systemd service), against fake systemctl
    and vtysh that record their calls and the service's files in a directory of the test's."""
    fake, etc, bin_ = tmp_path, tmp_path / "etc-frr", tmp_path / "bin"
    etc.mkdir()
    bin_.mkdir()
    (etc / "daemons").write_text("zebra=yes\nbgpd=no\nospfd=no\n")
    (etc / "frr.conf").write_text("frr defaults traditional\n")
    for name, text in (("systemctl", FAKE_SYSTEMCTL), ("vtysh", FAKE_VTYSH)):
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    me = evpn.Peer("rerun", PRIVATE)
    service = {
        "ONE_FRR_MODE": "service",
        "ONE_FRR_ETC": etc,
        "ONE_SYSTEMD_ETC": fake / "systemd",
        "FAKE": fake,
        "PATH": f"{bin_}:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    calls = fake / "calls"

    def apply(peers=()):
        calls.write_text("")
        out = evpn.run(host, {**evpn.apply_env(me, [me, *peers], [100]), **service})
        return out, calls.read_text().splitlines()

    out, made = apply()
    assert made == [
        "systemctl enable frr",
        "systemctl is-active -q frr",
        "systemctl restart frr",
        "vtysh -c show bgp l2vpn evpn summary -c show evpn vni",
    ]
    assert "FRR service restarted" in out and "FRR vnis=100" in out
    assert "bgpd=yes" in (etc / "daemons").read_text().splitlines()
    assert (etc / "frr.conf").read_text() == evpn.render_frr(me, [me]).rstrip("\n") + "\n"

    # Again, nothing changed: one question to systemd, no enable, no vtysh, no file written.
    written = (etc / "frr.conf").stat().st_mtime_ns
    out, made = apply()
    assert made == ["systemctl is-active -q frr"]
    assert "FRR up (service, unchanged) VNIs 100" in out
    assert (etc / "frr.conf").stat().st_mtime_ns == written

    # A new peer: the file is rewritten and the service reloaded, then asked.
    out, made = apply(peers=[evpn.Peer("other", "10.60.0.22")])
    assert made[1:] == ["systemctl reload frr", made[-1]] and made[-1].startswith("vtysh")
    assert "neighbor 10.60.0.22" in (etc / "frr.conf").read_text()

    # The service stopped behind the portal's back: restarted.
    (fake / "active").unlink()
    out, made = apply(peers=[evpn.Peer("other", "10.60.0.22")])
    assert "systemctl restart frr" in made and "FRR service restarted" in out

    # A daemons file without a bgpd line at all gets one, once.
    (etc / "daemons").write_text("zebra=yes\n")
    apply(peers=[evpn.Peer("other", "10.60.0.22")])
    _, made = apply(peers=[evpn.Peer("other", "10.60.0.22")])
    assert (etc / "daemons").read_text() == "zebra=yes\nbgpd=yes\n"
    assert made == ["systemctl is-active -q frr"]


def test_an_unknown_frr_mode_is_refused(host):
    me = evpn.Peer("rerun", PRIVATE)
    with pytest.raises(hostconfig.HostConfigError, match="ONE_FRR_MODE must be standalone or"):
        evpn.run(host, {**evpn.apply_env(me, [me], [100]), "ONE_FRR_MODE": "systemd"})
