#!/bin/bash
# Stage an image on a host before any VM needs it (vms/staging.py, run when an image is
# exported to a cluster's datastore and when a host joins the cluster): downloaded, verified
# and unpacked once for the host's id map, exactly as a first deploy would do it, so that
# the first VM of the image on this host only mounts its overlay. Idempotent: a staged image
# is found and left alone; a deploy running at the same time waits for this transfer (the
# image's lock) instead of making its own. Inputs as for vm-deploy.sh: IMAGE_URL,
# IMAGE_RESOLVE, IMAGE_SHA256.
set -euo pipefail
BASE="$ONE_EDGE_BASE"  # its default: the prelude (hostexec/scripts.py)
IMAGES="$BASE/images"
mkdir -p "$IMAGES"
# @include steps.sh
# @include isolation.sh
# @include rootfs.sh
PRIVILEGED=0  # staging prepares the unprivileged tree, what every default template runs

step "image"
one_image_fetch

step "rootfs"
if one_overlay_available; then
    read -r ID_START ID_COUNT < <(one_idmap)
    one_prepare_image "$CACHED" "$IMAGE_SHA256" "$ID_START" "$ID_COUNT"
    echo "ROOTFS image ${IMAGE_SHA256:0:12} ready for root id $ID_START"
else
    echo "ROOTFS no overlayfs on this host: each container unpacks its own copy"
fi
steps_done
echo "DONE image ${IMAGE_SHA256:0:12}"
