# Unit inspection for the API (status/journal): local child processes or a proxy to the owner.
# include()d from fleetd/CMakeLists.txt.
add_library(fleet_fleetd_inspector STATIC ${CMAKE_CURRENT_LIST_DIR}/subprocess.cpp
  ${CMAKE_CURRENT_LIST_DIR}/inspector.cpp)
add_library(fleet::fleetd_inspector ALIAS fleet_fleetd_inspector)
target_link_libraries(fleet_fleetd_inspector PUBLIC fleet::api_server fleet::registry fleet::common
  Boost::headers PRIVATE fleet_warnings)

fleet_add_test(fleetd_inspector_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/subprocess_test.cpp ${CMAKE_CURRENT_LIST_DIR}/inspector_test.cpp
  LIBS fleet::fleetd_inspector)
