"""The tray app: icon, menu, notification text and the windows it starts (pystray, Pillow)."""
