# scepctl end to end (tests/integration/test_scepctl.sh), and its
# one-time challenges (test_challenge_cli.sh, no server needed).  Included from
# tests/integration/CMakeLists.txt.  With scepd built, the script also
# enrolls real devices with scepclient and revokes them.
if(TARGET scepctl)
  set(_scepctl_env "SCEPCTL=$<TARGET_FILE:scepctl>")
  if(TARGET scepd)
    list(APPEND _scepctl_env "SCEPD=$<TARGET_FILE:scepd>")
  endif()
  add_test(NAME integration.scepctl
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_scepctl.sh)
  set_tests_properties(integration.scepctl PROPERTIES
    LABELS integration
    TIMEOUT 300
    ENVIRONMENT "${_scepctl_env}")
endif()
if(TARGET scepctl)
  add_test(NAME integration.challenge_cli
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_challenge_cli.sh)
  set_tests_properties(integration.challenge_cli PROPERTIES
    LABELS integration
    TIMEOUT 120
    ENVIRONMENT "SCEPCTL=$<TARGET_FILE:scepctl>")
endif()
