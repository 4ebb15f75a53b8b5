"""A tus client process (tuspy) for the resume tests: uploads FILE to URL chunk by chunk,
printing the offset after each chunk, and resumes an existing upload when given its URL.

usage: python -m tests.media.tus_client ENDPOINT TOKEN FILE CHUNK [UPLOAD_URL]
"""

from __future__ import annotations

import sys
import time

from tusclient.client import TusClient


def main() -> None:
    """Upload, one line per stored chunk: `url offset`."""
    endpoint, token, path, chunk = sys.argv[1:5]
    resume = sys.argv[5] if len(sys.argv) > 5 else None
    client = TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(
        file_path=path,
        chunk_size=int(chunk),
        metadata={"filename": "phone.mp4", "title": "Resumed"},
        url=resume,
        store_url=False,
    )
    if uploader.url is None:
        uploader.set_url(uploader.create_url())
    print(f"{uploader.url} {uploader.offset}", flush=True)
    while uploader.offset < uploader.get_file_size():
        uploader.upload_chunk()
        print(f"{uploader.url} {uploader.offset}", flush=True)
        # A phone on a slow network: the killer gets its chance between chunks.
        time.sleep(0.05)


if __name__ == "__main__":
    main()
