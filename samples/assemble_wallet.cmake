# Assembles the built sample wallet: a sample release key (generated once per
# build tree, never committed), every baseline bundle packed and signed with
# it as <out>/packages/<name>.atb (app.json lists the packages, so each
# launch installs them through the artifact store), app.json with that key
# pinned, and the sample hotpatches packed and signed with it under
# <out>/../wallet-patches/<name>.atb (their directories beside them).
#   cmake -DATRIUM=<atrium exe> -DSRC=<samples/wallet> -DOUT=<build/samples/wallet> -P this
set(key_prefix ${OUT}/../wallet-release)
if(NOT EXISTS ${key_prefix}.pub)
  execute_process(COMMAND ${ATRIUM} keygen --out ${key_prefix} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "atrium keygen failed")
  endif()
endif()
file(READ ${key_prefix}.pub pub)
string(STRIP "${pub}" pub)

file(READ ${SRC}/app.json app)
string(JSON app_id GET "${app}" id)  # every package below is for this app
string(JSON app SET "${app}" release_keys "[\"${pub}\"]")
file(REMOVE_RECURSE ${OUT}/packages)
file(MAKE_DIRECTORY ${OUT}/packages)
string(JSON count LENGTH "${app}" baseline)
math(EXPR last "${count} - 1")
set(packages "")
foreach(i RANGE ${last})
  string(JSON rel GET "${app}" baseline ${i})
  get_filename_component(name ${rel} NAME)
  execute_process(COMMAND ${ATRIUM} pack ${OUT}/${rel} --key ${key_prefix}.key --app ${app_id}
    -o ${OUT}/packages/${name}.atb RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packing sample bundle ${rel} failed")
  endif()
  list(APPEND packages "\"packages/${name}.atb\"")
endforeach()
list(JOIN packages ", " packages)
string(JSON app SET "${app}" baseline "[${packages}]")
file(WRITE ${OUT}/app.json "${app}\n")

set(patches_out ${OUT}/../wallet-patches)
file(REMOVE_RECURSE ${patches_out})
file(GLOB patch_dirs LIST_DIRECTORIES true ${SRC}/patches/*)
foreach(dir ${patch_dirs})
  if(IS_DIRECTORY ${dir})
    get_filename_component(name ${dir} NAME)
    file(COPY ${dir} DESTINATION ${patches_out})
    execute_process(COMMAND ${ATRIUM} patch sign ${patches_out}/${name} --key ${key_prefix}.key
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "signing sample patch ${name} failed")
    endif()
  endif()
endforeach()

# The sample remote config set, packed and signed as a config_set package
# (`./dev run` installs it): <out>/../wallet-config.atb.
execute_process(COMMAND ${ATRIUM} pack ${SRC}/config --kind config_set --key ${key_prefix}.key
  --app ${app_id} -o ${OUT}/../wallet-config.atb RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "packing the sample config set failed")
endif()

# The sample H5 help centre, packed and signed as an h5_package (`./dev run`
# installs it): <out>/../wallet-h5-help.atb.
execute_process(COMMAND ${ATRIUM} pack ${SRC}/h5/help --kind h5_package --key ${key_prefix}.key
  --app ${app_id} -o ${OUT}/../wallet-h5-help.atb RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "packing the sample H5 help centre failed")
endif()
