; Inno Setup 6 script for fim-tray: a per-user install (no administrator rights) of the
; PyInstaller one-folder build.
;
;   pyinstaller --noconfirm packaging\fim-tray.spec
;   iscc packaging\windows\fim-tray.iss
;   iscc /DAppVersion=0.2.0 /DDistDir=C:\path\to\dist\fim-tray packaging\windows\fim-tray.iss
;
; Installs to %LOCALAPPDATA%\Programs\fim-tray, adds a Start menu entry and, as an optional task
; (ticked by default), starts fim-tray at login with the same HKCU Run value the tray's own
; "Start at login" item reads and writes (fim_tray/platform/autostart.py). Uninstall deletes
; that one value, never the Run key that holds other programs' values too.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef DistDir
  #define DistDir "..\..\dist\fim-tray"
#endif
#define AppName "fim-tray"
#define AppExe "fim-tray.exe"
; desktop-notifier sends its toasts as the AppUserModelID it is given the app's name for
; (fim-tray); the Start menu shortcut carries the same ID, so toasts show its name and icon.
#define AppUserModelID "fim-tray"

[Setup]
; A fixed AppId: a new version upgrades the old one in place instead of installing beside it.
AppId={{2856EF13-8091-4D4E-9D63-C2906B9B0F08}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=fim-tray developers
AppComments=File Integrity Monitor in the system tray
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=fim-tray-{#AppVersion}-setup
SetupIconFile={#DistDir}\_internal\icons\fim-tray.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; A running fim-tray holds its files open: ask to close it before replacing them.
CloseApplications=yes
RestartApplications=no

[Tasks]
Name: "startatlogin"; Description: "Start fim-tray when I log in"; GroupDescription: "Start at login:"

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Parameters: "tray"; WorkingDir: "{app}"; Comment: "File Integrity Monitor in the system tray"; AppUserModelID: "{#AppUserModelID}"

[Registry]
; Start at login: the value the tray's menu item shows ticked. Only this value is ever deleted.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "fim-tray"; ValueData: """{app}\{#AppExe}"" tray"; Tasks: startatlogin; Flags: uninsdeletevalue
; The same value again, without creating it: uninstall also deletes it when the person turned
; Start at login on from the tray's menu after installing without the task.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "fim-tray"; Flags: uninsdeletevalue dontcreatekey
; The toast registration desktop-notifier makes at run time; the key is fim-tray's alone.
Root: HKCU; Subkey: "Software\Classes\AppUserModelId\fim-tray"; ValueType: string; ValueName: "DisplayName"; ValueData: "{#AppName}"; Flags: uninsdeletekey

[Run]
Filename: "{app}\{#AppExe}"; Parameters: "tray"; Description: "Start fim-tray now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; The tray must not hold its files open while they are removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/IM {#AppExe} /F"; Flags: runhidden; RunOnceId: "StopFimTray"
