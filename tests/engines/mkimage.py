#!/usr/bin/env python3
"""Builds an OCI image archive (oci-archive: an OCI image layout in a tar) from a rootfs tarball.

    mkimage.py ROOTFS.tar OUT.tar NAME:TAG [--entrypoint PATH]... [--user UID:GID]

One uncompressed layer (the tarball as is), a config with PATH and /bin/sh (or the given
entrypoint and user, as a pause image has), an index whose manifest carries both the OCI ref
name and containerd's image name annotation, so `ctr image import OUT.tar` registers NAME:TAG.
Standard library only.
"""

import argparse
import hashlib
import io
import json
import os
import platform
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
        "s390x": "s390x", "riscv64": "riscv64"}


def blob(out, data):
    """Adds DATA as blobs/sha256/<digest>; returns its descriptor fields."""
    digest = hashlib.sha256(data).hexdigest()
    add(out, f"blobs/sha256/{digest}", data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def add(out, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    out.addfile(info, io.BytesIO(data))


def main():
    parser = argparse.ArgumentParser(description="an OCI image archive from a rootfs tarball")
    parser.add_argument("rootfs_tar")
    parser.add_argument("out_path")
    parser.add_argument("name", help="NAME:TAG")
    parser.add_argument("--entrypoint", action="append", default=[],
                        help="one argument of the entrypoint (repeat for more); no Cmd then")
    parser.add_argument("--user", help="the image's default user, UID[:GID]")
    args = parser.parse_args()
    rootfs_tar, out_path, name = args.rootfs_tar, args.out_path, args.name
    with open(rootfs_tar, "rb") as f:
        layer = f.read()
    arch = ARCH.get(platform.machine(), platform.machine())
    image_config = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    if args.entrypoint:
        image_config["Entrypoint"] = args.entrypoint
    else:
        image_config["Cmd"] = ["/bin/sh"]
    if args.user:
        image_config["User"] = args.user
    config = {
        "architecture": arch,
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    with tarfile.open(out_path, "w") as out:
        add(out, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        layer_desc = blob(out, layer)
        config_desc = blob(out, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_desc}],
        }
        manifest_desc = blob(out, json.dumps(manifest).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_desc,
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }],
        }
        add(out, "index.json", json.dumps(index).encode())
    os.chmod(out_path, 0o644)


if __name__ == "__main__":
    main()
