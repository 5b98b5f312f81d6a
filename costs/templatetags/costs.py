"""The provision page's cost part, without the provision views knowing about costs."""

from django import template

from costs import reports

register = template.Library()


@register.simple_tag
def provision_cost(provision) -> reports.ProvisionCost:
    """The provision's cost this month, its VMs' shares and its idle capacity."""
    return reports.of_provision(provision)
