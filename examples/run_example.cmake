# cmake -DPROG=<example> -P run_example.cmake: run an example on the
# simulated kernel; fail unless it exits 0 and its first line says so.
execute_process(COMMAND ${PROG} RESULT_VARIABLE rc
  OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${PROG}: exit status ${rc}")
endif()
string(REGEX MATCH "^[^\n]*" first "${out}")
if(NOT first STREQUAL "kernel: simulated (libiommudirty sim)")
  message(FATAL_ERROR "${PROG}: first line is \"${first}\", not the simulated kernel's")
endif()
