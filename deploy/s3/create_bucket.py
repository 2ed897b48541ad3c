"""Create the artifact bucket (idempotent): the `s3-init` job of deploy/compose.yaml.

Plain boto3 against any S3-compatible endpoint; retried while the storage starts.
"""

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError

bucket = os.environ["S3_BUCKET"]
client = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
for attempt in range(60):
    try:
        client.create_bucket(Bucket=bucket)
        print(f"bucket {bucket} created")
        sys.exit(0)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            print(f"bucket {bucket} exists")
            sys.exit(0)
        error = exc.response["Error"]["Code"]
    except BotoCoreError as exc:  # endpoint not answering yet
        error = type(exc).__name__
    print(f"waiting for S3 ({error}), attempt {attempt + 1}", file=sys.stderr)
    time.sleep(2)
sys.exit(f"could not create bucket {bucket}")
