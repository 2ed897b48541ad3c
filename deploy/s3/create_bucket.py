"""Create the artifact and landing buckets (idempotent): the `s3-init` job of deploy/compose.yaml.

Plain boto3 against any S3-compatible endpoint; retried while the storage starts.
"""

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError

buckets = [os.environ["S3_BUCKET"], os.environ.get("S3_LANDING_BUCKET", "landing")]
client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])


def create(bucket: str) -> bool:
    """True once ``bucket`` exists; False while the storage is not answering yet."""
    try:
        client.create_bucket(Bucket=bucket)
        print(f"bucket {bucket} created")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            print(f"bucket {bucket} exists")
            return True
        error = exc.response["Error"]["Code"]
    except BotoCoreError as exc:  # endpoint not answering yet
        error = type(exc).__name__
    print(f"waiting for S3 ({error}) to create {bucket}", file=sys.stderr)
    return False


for bucket in buckets:
    for _attempt in range(60):
        if create(bucket):
            break
        time.sleep(2)
    else:
        sys.exit(f"could not create bucket {bucket}")
