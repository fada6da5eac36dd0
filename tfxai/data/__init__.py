"""Data: image folders, the bundled demo data."""

from tfxai.data.demo import load_demo
from tfxai.data.image_folder import ImageFolder, image_dataset, list_images, load_images, read_image, scan_image_folder, split_stratified

__all__ = ["ImageFolder", "image_dataset", "list_images", "load_demo", "load_images", "read_image", "scan_image_folder", "split_stratified"]
