"""The content repurposer: one long recording in, clips, posts, chapters and subtitles out."""
