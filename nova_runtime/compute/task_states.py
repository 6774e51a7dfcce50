"""Task states that virt drivers set themselves (through the callback that
ComputeDriver.snapshot receives). The full list joins with the lifecycle."""

IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
