"""A firewall ledger row records the rules the portal applied (`applied`), which the drift
check compares with DigitalOcean and the firewall job restores. Rows written before that
record existed get the rules those deploys applied: the portal's defaults for the
provision's VPC range. Where the firewall holds something else (the earliest deploys left it
allow-all), the drift check reports the difference and Repair puts the portal's rules on it.

The defaults are written out here, as they were, rather than imported: a migration must not
change when provisions/firewall_rules.py does."""

from django.db import migrations

EVERYWHERE = ["0.0.0.0/0", "::/0"]


def _inbound(protocol, ports, addresses):
    return {"protocol": protocol, "ports": ports, "sources": {"addresses": list(addresses)}}


def _outbound(protocol):
    return {"protocol": protocol, "ports": "0", "destinations": {"addresses": EVERYWHERE}}


def default_rules(vpc_range: str) -> dict:
    return {
        "inbound_rules": [
            _inbound("tcp", "22", EVERYWHERE),
            _inbound("tcp", "9001-59000", EVERYWHERE),
            _inbound("udp", "9001-59000", EVERYWHERE),
            _inbound("icmp", "0", EVERYWHERE),
            _inbound("tcp", "179", [vpc_range]),
            _inbound("udp", "4789", [vpc_range]),
        ],
        "outbound_rules": [_outbound("tcp"), _outbound("udp"), _outbound("icmp")],
    }


def record_applied_rules(apps, schema_editor):
    CloudResource = apps.get_model("provisions", "CloudResource")
    firewalls = CloudResource.objects.filter(kind="firewall", state="CREATED")
    for row in firewalls.select_related("provision"):
        if "applied" in (row.data or {}):
            continue
        vpc = CloudResource.objects.filter(
            provision=row.provision, kind="vpc", name=row.provision.tag
        ).first()
        vpc_range = ((vpc.data or {}) if vpc else {}).get("ip_range")
        if vpc_range:  # else the firewall job fails on the unknown range, as it always has
            row.data = {**(row.data or {}), "applied": default_rules(vpc_range)}
            row.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [("provisions", "0008_provisionevent_source")]

    operations = [migrations.RunPython(record_applied_rules, migrations.RunPython.noop)]
