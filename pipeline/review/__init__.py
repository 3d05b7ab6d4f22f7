"""Looking at what was made: the contact sheet, thumbnails, the reel, status and summary views."""
