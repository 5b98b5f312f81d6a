from decimal import Decimal

from provisions.models import MeteredDroplet

HOURLY, MONTHLY = Decimal("0.00893"), Decimal("6.00")  # s-1vcpu-1gb, the simulator's too


def metered(provision, started_at) -> None:
    """Each host of the provision with an s-1vcpu-1gb droplet running since `started_at`."""
    for host in provision.hosts.all():
        MeteredDroplet.objects.create(
            provision=provision,
            host=host,
            host_name=host.name,
            droplet_id=f"{provision.pk}-{host.pk}",
            size="s-1vcpu-1gb",
            price_hourly=HOURLY,
            price_monthly=MONTHLY,
            started_at=started_at,
        )
