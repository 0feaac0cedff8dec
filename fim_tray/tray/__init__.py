"""The tray application: the icon and its menu (pystray, Pillow), what the notifications say
(sent through ``platform.notify``) and the windows it starts."""
