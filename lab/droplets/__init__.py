"""Lab droplets that boot as QEMU guests (TCG): a cached Debian 12 base image, one qcow2
overlay per droplet, DigitalOcean's metadata service for the guest's cloud-init."""
