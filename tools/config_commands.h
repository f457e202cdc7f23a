// `atrium config show|eval|validate`: the remote config of an app, what a
// config set gives a described device, and the check of a config.json.
#ifndef ATRIUM_TOOLS_CONFIG_COMMANDS_H_
#define ATRIUM_TOOLS_CONFIG_COMMANDS_H_

// argv[0] is "config".
int ConfigMain(int argc, char** argv);

#endif  // ATRIUM_TOOLS_CONFIG_COMMANDS_H_
