# scepc integration tests; included by tests/integration/CMakeLists.txt.
# Each script sources test_scepc_common.sh; exit 77 means skipped.
if(TARGET scepc)
  set(_scepc_dir ${CMAKE_CURRENT_LIST_DIR})
  set(_scepc_tests scepserver)
  if(TARGET scepd)
    list(APPEND _scepc_tests scepd errors watch)
  endif()
  if(TARGET scepd AND TARGET scepctl)
    list(APPEND _scepc_tests approval) # manual approval: polls until scepctl decides
    list(APPEND _scepc_tests conventions) # --help, fullchain.pem, hints, watch --dry-run
  endif()
  foreach(t ${_scepc_tests})
    add_test(NAME integration.scepc_${t} COMMAND sh ${_scepc_dir}/test_scepc_${t}.sh)
    set(_env "SCEPC=$<TARGET_FILE:scepc>")
    if(TARGET scepd)
      list(APPEND _env "SCEPD=$<TARGET_FILE:scepd>")
    endif()
    if(TARGET scepctl)
      list(APPEND _env "SCEPCTL=$<TARGET_FILE:scepctl>")
    endif()
    set_tests_properties(integration.scepc_${t} PROPERTIES LABELS integration TIMEOUT 120
                         SKIP_RETURN_CODE 77 ENVIRONMENT "${_env}")
  endforeach()
endif()
