"""The tray application: the icon, its menu and the notifications (pystray, Pillow)."""
