# Assembles the built sample wallet: a sample release key (generated once per
# build tree, never committed), app.json with that key pinned, and the sample
# hotpatches signed with it under <out>/../wallet-patches/.
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
string(JSON app SET "${app}" release_keys "[\"${pub}\"]")
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
