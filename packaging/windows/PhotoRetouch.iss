; Inno Setup 6 script for the Windows installer (built on Windows by packaging/build.py,
; which runs: iscc /DAppVersion=<version> packaging\windows\PhotoRetouch.iss).
; It installs dist\PhotoRetouch\ for the current user (no administrator rights needed),
; adds a Start menu entry (and a desktop icon if asked), associates nothing by default,
; and registers an uninstaller that leaves the user's settings and trained models in
; %APPDATA%\PhotoRetouch.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "PhotoRetouch"
#define AppExe "PhotoRetouch.exe"

[Setup]
AppId={{6E1D4B8A-3F0C-4C55-9B7E-2A4F61C0D5E3}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=PhotoRetouch
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
; written by desktop_app.spec from resources\icons\photoretouch-512.png
SetupIconFile=..\..\build\photoretouch.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\PhotoRetouch\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
