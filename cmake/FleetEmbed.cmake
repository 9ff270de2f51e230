# fleet_embed_files(<out.cpp> HEADER <include> NAMESPACE <ns> FILES <symbol> <path> ...):
# generates <out.cpp> at build time (cmake/embed_files.cmake), defining
# `std::string_view <symbol>()` in <ns> for each file, declared in HEADER; add <out.cpp> to a
# target's sources. Rebuilt when a file changes.
set(_fleet_embed_script ${CMAKE_CURRENT_LIST_DIR}/embed_files.cmake)
function(fleet_embed_files out)
  cmake_parse_arguments(E "" "HEADER;NAMESPACE" "FILES" ${ARGN})
  set(entries "")
  set(paths "")
  while(E_FILES)
    list(POP_FRONT E_FILES symbol path)
    list(APPEND entries "${symbol}=${path}")
    list(APPEND paths "${path}")
  endwhile()
  list(JOIN entries "|" joined)
  get_filename_component(name ${out} NAME)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DHEADER=${E_HEADER} -DNAMESPACE=${E_NAMESPACE}
      "-DENTRIES=${joined}" -P ${_fleet_embed_script}
    DEPENDS ${paths} ${_fleet_embed_script}
    COMMENT "Embedding ${name}" VERBATIM)
endfunction()
