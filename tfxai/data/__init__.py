"""Data: image folders, labelled images in memory, the bundled demo data."""

from tfxai.data.demo import load_demo
from tfxai.data.image_folder import ImageFolder, image_dataset, list_images, load_images, read_image, scan_image_folder, split_stratified, to_model_channels
from tfxai.data.labelled import DEMO, LabelledImages, load_labelled_images

__all__ = [
    "DEMO",
    "ImageFolder",
    "LabelledImages",
    "image_dataset",
    "list_images",
    "load_demo",
    "load_images",
    "load_labelled_images",
    "read_image",
    "to_model_channels",
    "scan_image_folder",
    "split_stratified",
]
