"""Security groups (OpenNebula's): named inbound rules added to a provision's firewall on top
of its defaults. Rules and their checks (rules), operations (services), pages (views), the API
(api) and the admin (admin)."""
