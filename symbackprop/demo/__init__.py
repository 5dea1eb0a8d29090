"""The demo: the book's chapter 3 images (images), the pictures (plots) and the guided run (run)."""
